"""The `tfmodels-create-pretraining-data` command as a file; flags and help:
tfmodels/cli/create_pretraining_data.py."""

from tfmodels.cli.create_pretraining_data import main

if __name__ == "__main__":
    main()
