"""Block Kit validation as Slack applies it: the hard limits and the per-block checks.

The limits are those of /work/shared/reference/api-contracts.md section 4.1 (hard-coded here).
`validate_blocks` returns Slack-style error strings ("... [json-pointer /blocks/0/text]"); the
Slack fake answers `invalid_blocks` with them, and tests call it directly on built blocks.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BLOCK_TYPES",
    "LIMITS",
    "MAX_MESSAGE_BLOCKS",
    "MAX_VIEW_BLOCKS",
    "text_of",
    "validate_blocks",
    "validate_view",
]

# Block Kit limits (section 4.1).
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
LIMITS = {
    "block_id": 255,
    "section_text": 3000,
    "section_fields": 10,
    "section_field_text": 2000,
    "header_text": 150,
    "context_elements": 10,
    "actions_elements": 25,
    "button_text": 75,
    "button_value": 2000,
    "button_url": 3000,
    "action_id": 255,
    "placeholder": 150,
    "static_select_options": 100,
    "option_text": 75,
    "option_value": 150,
    "image_url": 3000,
    "alt_text": 2000,
    "input_label": 2000,
    "markdown_text": 12000,
    "message_text": 40000,
    "view_title": 24,
    "private_metadata": 3000,
    "callback_id": 255,
}
BLOCK_TYPES = frozenset(
    {
        "section",
        "header",
        "divider",
        "context",
        "actions",
        "image",
        "input",
        "rich_text",
        "markdown",
        "file",
        "video",
        "context_actions",
        "table",
    }
)


def text_of(obj: Any) -> str | None:
    if isinstance(obj, dict):
        t = obj.get("text")
        return t if isinstance(t, str) else None
    return None


def validate_blocks(
    blocks: Any, max_blocks: int = MAX_MESSAGE_BLOCKS, root: str = "/blocks"
) -> list[str]:
    """Return Slack-style error strings ("... [json-pointer:/blocks/0/text/text]")."""
    errors: list[str] = []

    def err(msg: str, ptr: str) -> None:
        errors.append(f"{msg} [json-pointer:{ptr}]")

    def too_long(value: str | None, limit: int, ptr: str) -> None:
        if value is not None and len(value) > limit:
            err(f"must be less than {limit + 1} characters", ptr)

    def plain_text(obj: Any, ptr: str, limit: int, required: bool = True) -> None:
        if obj is None:
            if required:
                err("must provide an object", ptr)
            return
        if not isinstance(obj, dict) or obj.get("type") != "plain_text":
            err('must be a "plain_text" text object', ptr)
            return
        too_long(text_of(obj), limit, ptr + "/text")

    def element(el: Any, ptr: str) -> None:
        if not isinstance(el, dict) or not isinstance(el.get("type"), str):
            err("must provide an object with a type", ptr)
            return
        too_long(el.get("action_id"), LIMITS["action_id"], ptr + "/action_id")
        etype = el["type"]
        if etype == "button":
            plain_text(el.get("text"), ptr + "/text", LIMITS["button_text"])
            too_long(el.get("value"), LIMITS["button_value"], ptr + "/value")
            too_long(el.get("url"), LIMITS["button_url"], ptr + "/url")
            style = el.get("style")
            if style is not None and style not in ("primary", "danger"):
                err("must be one of [primary, danger]", ptr + "/style")
        if "placeholder" in el:
            plain_text(el.get("placeholder"), ptr + "/placeholder", LIMITS["placeholder"])
        options = el.get("options")
        if isinstance(options, list):
            if etype == "static_select" and len(options) > LIMITS["static_select_options"]:
                err(
                    f"must provide no more than {LIMITS['static_select_options']} items",
                    ptr + "/options",
                )
            for j, opt in enumerate(options):
                optr = f"{ptr}/options/{j}"
                if not isinstance(opt, dict):
                    err("must provide an object", optr)
                    continue
                too_long(text_of(opt.get("text")), LIMITS["option_text"], optr + "/text/text")
                too_long(opt.get("value"), LIMITS["option_value"], optr + "/value")

    if not isinstance(blocks, list):
        return [f"must provide an array [json-pointer:{root}]"]
    if len(blocks) > max_blocks:
        err(f"must provide no more than {max_blocks} items", root)
    seen_ids: set[str] = set()
    for i, block in enumerate(blocks):
        ptr = f"{root}/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            err("must provide an object with a type", ptr)
            continue
        btype = block["type"]
        if btype not in BLOCK_TYPES:
            err(f"unsupported type: {btype}", ptr + "/type")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            too_long(block_id, LIMITS["block_id"], ptr + "/block_id")
            if block_id in seen_ids:
                err("must be unique within the message", ptr + "/block_id")
            seen_ids.add(block_id)
        if btype == "section":
            text = block.get("text")
            fields = block.get("fields")
            if text is None and not fields:
                err("must provide either text or fields", ptr)
            if text is not None:
                t = text_of(text)
                if t is not None and len(t) < 1:
                    err("must be more than 0 characters", ptr + "/text/text")
                too_long(t, LIMITS["section_text"], ptr + "/text/text")
            if isinstance(fields, list):
                if len(fields) > LIMITS["section_fields"]:
                    err(
                        f"must provide no more than {LIMITS['section_fields']} items",
                        ptr + "/fields",
                    )
                for j, f in enumerate(fields):
                    too_long(text_of(f), LIMITS["section_field_text"], f"{ptr}/fields/{j}/text")
            if "accessory" in block:
                element(block["accessory"], ptr + "/accessory")
        elif btype == "header":
            plain_text(block.get("text"), ptr + "/text", LIMITS["header_text"])
        elif btype == "context":
            els = block.get("elements")
            if not isinstance(els, list) or not els:
                err("must provide a non-empty array", ptr + "/elements")
            elif len(els) > LIMITS["context_elements"]:
                err(
                    f"must provide no more than {LIMITS['context_elements']} items",
                    ptr + "/elements",
                )
        elif btype == "actions":
            els = block.get("elements")
            if not isinstance(els, list) or not els:
                err("must provide a non-empty array", ptr + "/elements")
            else:
                if len(els) > LIMITS["actions_elements"]:
                    err(
                        f"must provide no more than {LIMITS['actions_elements']} items",
                        ptr + "/elements",
                    )
                for j, el in enumerate(els):
                    element(el, f"{ptr}/elements/{j}")
        elif btype == "image":
            too_long(block.get("image_url"), LIMITS["image_url"], ptr + "/image_url")
            too_long(block.get("alt_text"), LIMITS["alt_text"], ptr + "/alt_text")
        elif btype == "input":
            plain_text(block.get("label"), ptr + "/label", LIMITS["input_label"])
            element(block.get("element"), ptr + "/element")
        elif btype == "markdown":
            too_long(block.get("text"), LIMITS["markdown_text"], ptr + "/text")
    return errors


def validate_view(view: dict[str, Any], expected_type: str) -> list[str]:
    """Slack's `invalid_arguments` messages for a view: its type, titles, metadata, blocks."""
    messages: list[str] = []
    vtype = view.get("type")
    if vtype != expected_type:
        messages.append(f"[ERROR] must be '{expected_type}' [json-pointer:/view/type]")
    if vtype == "modal":
        title = view.get("title")
        if not isinstance(title, dict) or title.get("type") != "plain_text":
            messages.append("[ERROR] must provide a plain_text object [json-pointer:/view/title]")
        for key in ("title", "submit", "close"):
            t = text_of(view.get(key))
            if t is not None and len(t) > LIMITS["view_title"]:
                messages.append(
                    f"[ERROR] must be less than {LIMITS['view_title'] + 1} characters "
                    f"[json-pointer:/view/{key}/text]"
                )
    pm = view.get("private_metadata")
    if isinstance(pm, str) and len(pm) > LIMITS["private_metadata"]:
        messages.append(
            "[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]"
        )
    cb = view.get("callback_id")
    if isinstance(cb, str) and len(cb) > LIMITS["callback_id"]:
        messages.append("[ERROR] must be less than 256 characters [json-pointer:/view/callback_id]")
    blocks = view.get("blocks", [])
    messages.extend(
        f"[ERROR] {e}" for e in validate_blocks(blocks, MAX_VIEW_BLOCKS, "/view/blocks")
    )
    return messages
