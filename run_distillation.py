"""The `tfmodels-distill` command as a file: flags and help in tfmodels/cli/distillation.py."""

from tfmodels.cli.distillation import main

if __name__ == "__main__":
    main()
