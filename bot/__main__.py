from bot.cli import main

if __name__ == "__main__":  # helper processes import this module too; only run it as a program
    main()
