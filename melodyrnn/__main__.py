from melodyrnn.cli.main import main

main()
