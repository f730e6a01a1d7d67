"""The `tfmodels-benchmark` command as a file: flags and help in tfmodels/cli/benchmark.py."""

from tfmodels.cli.benchmark import main

if __name__ == "__main__":
    main()
