from tfmodels.cli.fewshot import main
if __name__ == "__main__":
    main()
