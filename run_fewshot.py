"""The `tfmodels-fewshot` command as a file: flags and help in tfmodels/cli/fewshot.py."""

from tfmodels.cli.fewshot import main

if __name__ == "__main__":
    main()
