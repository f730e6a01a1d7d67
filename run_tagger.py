"""The `tfmodels-tag` command as a file: flags and help in tfmodels/cli/tagger.py."""

from tfmodels.cli.tagger import main

if __name__ == "__main__":
    main()
