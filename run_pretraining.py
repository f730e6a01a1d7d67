from tfmodels.cli.pretraining import main
if __name__ == "__main__":
    main()
