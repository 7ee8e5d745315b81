"""Every Slack name the code relies on, in one place: commands, shortcuts, events, action,
block and callback ids, and the bot scopes. A test checks manifest.yml declares all of them."""

from __future__ import annotations

from enum import StrEnum


class Command(StrEnum):
    EXPANSION = "/expansion"


class Shortcut(StrEnum):
    """Message shortcuts (the "More actions" menu on any message)."""

    LOG_SIGNAL = "log_expansion_signal"  # "Log as expansion signal": opens the log modal


class Event(StrEnum):
    APP_HOME_OPENED = "app_home_opened"


class Action(StrEnum):
    ACKNOWLEDGE = "alert_acknowledge"
    SNOOZE = "alert_snooze"  # static select: 1d, 1w, 2w, or "date" (opens the modal)
    START_PLAN = "alert_start_plan"
    NOT_NOW = "alert_not_now"  # opens the reason modal
    REASSIGN = "alert_reassign"  # opens the user picker
    PICK_ACCOUNT = "pick_account"  # a pick-list entry after an ambiguous /expansion name
    SNOOZE_DATE = "snooze_date"  # the datepicker inside the snooze modal
    NOT_NOW_REASON = "not_now_reason"
    NOT_NOW_NOTE = "not_now_note"
    REASSIGN_USER = "reassign_user"
    FEEDBACK_USEFUL = "alert_feedback_useful"
    FEEDBACK_NOISE = "alert_feedback_noise"
    STEP_DONE = "step_done"
    STEP_SNOOZE = "step_snooze"  # static select: 1d, 1w, 2w, or "date" (opens the modal)
    STEP_SKIP = "step_skip"  # opens the optional-note modal
    STEP_REASSIGN = "step_reassign"  # opens the user picker
    PLAN_REASSIGN = "plan_reassign"
    PLAN_OUTCOME = "plan_outcome"  # static select: won, lost, not_this_cycle (opens the modal)
    PLAN_DOCUMENT = "plan_document"  # seed 002's plan, as a canvas (else a file) in the thread
    SKIP_NOTE = "skip_note"
    OWNER_USER = "owner_user"
    OUTCOME_ARR = "outcome_arr"
    OUTCOME_REASON = "outcome_reason"
    OUTCOME_DATE = "outcome_date"
    LOG_ACCOUNT = "log_account"  # external select in the log modal: options from app.options
    LOG_KIND = "log_kind"
    LOG_TEXT = "log_text"
    OBJECTIONS = "alert_objections"  # opens the four objections, answered for this account


class Block(StrEnum):
    ALERT_ACTIONS = "alert_actions"
    PICK = "pick"
    SNOOZE_DATE = "snooze_date_block"
    NOT_NOW_REASON = "not_now_reason_block"
    NOT_NOW_NOTE = "not_now_note_block"
    REASSIGN_USER = "reassign_user_block"
    FEEDBACK = "alert_feedback"
    STEP_ACTIONS = "step_actions"
    PLAN_ACTIONS = "plan_actions"
    SKIP_NOTE = "skip_note_block"
    OWNER_USER = "owner_user_block"
    OUTCOME_ARR = "outcome_arr_block"
    OUTCOME_REASON = "outcome_reason_block"
    OUTCOME_DATE = "outcome_date_block"
    LOG_ACCOUNT = "log_account_block"
    LOG_KIND = "log_kind_block"
    LOG_TEXT = "log_text_block"


class Callback(StrEnum):
    SNOOZE_MODAL = "snooze_modal"
    NOT_NOW_MODAL = "not_now_modal"
    REASSIGN_MODAL = "reassign_modal"
    STEP_SNOOZE_MODAL = "step_snooze_modal"
    STEP_SKIP_MODAL = "step_skip_modal"
    OWNER_MODAL = "owner_modal"  # reassign a step or a whole plan
    OUTCOME_MODAL = "outcome_modal"
    LOG_MODAL = "log_signal_modal"  # log a message as an expansion signal
    OBJECTIONS_MODAL = "objections_modal"  # read-only: nothing to submit
    HOME = "home"


class Scope(StrEnum):
    """Bot scopes and the Web API methods that need them."""

    CHAT_WRITE = "chat:write"  # chat.postMessage, chat.update
    CHAT_WRITE_PUBLIC = "chat:write.public"  # post to a public channel without joining it
    COMMANDS = "commands"  # /expansion and the message shortcut
    USERS_READ = "users:read"  # users.info (timezone)
    USERS_READ_EMAIL = "users:read.email"  # users.lookupByEmail
    IM_WRITE = "im:write"  # conversations.open for DMs
    # Finding a post whose answer never came, by its outbox id in the message metadata:
    CHANNELS_HISTORY = "channels:history"  # conversations.history/.replies, public channels
    GROUPS_HISTORY = "groups:history"  # … private channels
    IM_HISTORY = "im:history"  # … DMs
    METADATA_READ = "metadata.message:read"  # the metadata in what those return
    CHANNELS_READ = "channels:read"  # conversations.list: a channel name's id
    GROUPS_READ = "groups:read"  # … for a private channel
    CHANNELS_JOIN = "channels:join"  # conversations.join: read a public channel posted to
    CANVASES_WRITE = "canvases:write"  # canvases.create/.access.set: the plan document
    FILES_WRITE = "files:write"  # the plan document as a file where canvases are not allowed


# Web API methods the app calls → the scope each needs (None: no scope needed).
METHODS: dict[str, Scope | None] = {
    "auth.test": None,
    "chat.postMessage": Scope.CHAT_WRITE,
    "chat.update": Scope.CHAT_WRITE,
    "chat.postEphemeral": Scope.CHAT_WRITE,  # error replies where there is no response_url
    "chat.getPermalink": None,  # links in escalations and to a logged signal's message
    "conversations.open": Scope.IM_WRITE,
    "users.lookupByEmail": Scope.USERS_READ_EMAIL,
    "users.info": Scope.USERS_READ,
    "views.open": None,
    "views.publish": None,
    "views.update": None,  # the log modal, once the account suggestion and permalink are in
    "conversations.history": Scope.CHANNELS_HISTORY,
    "conversations.replies": Scope.CHANNELS_HISTORY,
    "conversations.list": Scope.CHANNELS_READ,
    "conversations.join": Scope.CHANNELS_JOIN,
    "canvases.create": Scope.CANVASES_WRITE,
    "canvases.access.set": Scope.CANVASES_WRITE,
    # slack_sdk's wrapper for the three upload steps: files.getUploadURLExternal, a POST of the
    # bytes to the URL it gives, files.completeUploadExternal
    "files.upload_v2": Scope.FILES_WRITE,
    "files.getUploadURLExternal": Scope.FILES_WRITE,
    "files.completeUploadExternal": Scope.FILES_WRITE,
}

# Methods that need more scopes than the one above, by conversation type (a private channel,
# a DM) or for the metadata they return.
MORE_SCOPES: dict[str, tuple[Scope, ...]] = {
    "conversations.history": (Scope.GROUPS_HISTORY, Scope.IM_HISTORY, Scope.METADATA_READ),
    "conversations.replies": (Scope.GROUPS_HISTORY, Scope.IM_HISTORY, Scope.METADATA_READ),
    "conversations.list": (Scope.GROUPS_READ,),
}
