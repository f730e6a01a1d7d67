"""The `tfmodels-export` command as a file: flags and help in tfmodels/cli/export.py."""

from tfmodels.cli.export import main

if __name__ == "__main__":
    main()
