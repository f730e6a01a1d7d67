from tfmodels.cli.squad import main
if __name__ == "__main__":
    main()
