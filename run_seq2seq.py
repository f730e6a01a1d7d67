from tfmodels.cli.seq2seq import main
if __name__ == "__main__":
    main()
