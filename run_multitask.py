from tfmodels.cli.multitask import main
if __name__ == "__main__":
    main()
