"""The `tfmodels-pretrain` command as a file: flags and help in tfmodels/cli/pretraining.py."""

from tfmodels.cli.pretraining import main

if __name__ == "__main__":
    main()
