"""The `tfmodels-multitask` command as a file: flags and help in tfmodels/cli/multitask.py."""

from tfmodels.cli.multitask import main

if __name__ == "__main__":
    main()
