"""The `tfmodels-squad` command as a file: flags and help in tfmodels/cli/squad.py."""

from tfmodels.cli.squad import main

if __name__ == "__main__":
    main()
