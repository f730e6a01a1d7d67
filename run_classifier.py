"""The `tfmodels-classify` command as a file: flags and help in tfmodels/cli/classifier.py."""

from tfmodels.cli.classifier import main

if __name__ == "__main__":
    main()
