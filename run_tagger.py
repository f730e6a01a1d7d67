from tfmodels.cli.tagger import main
if __name__ == "__main__":
    main()
