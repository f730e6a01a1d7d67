from tfmodels.cli.create_pretraining_data import main
if __name__ == "__main__":
    main()
