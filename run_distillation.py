from tfmodels.cli.distillation import main
if __name__ == "__main__":
    main()
