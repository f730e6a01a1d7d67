"""The `tfmodels-seq2seq` command as a file: flags and help in tfmodels/cli/seq2seq.py."""

from tfmodels.cli.seq2seq import main

if __name__ == "__main__":
    main()
