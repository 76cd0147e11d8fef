from envtrace.cli.main import main

main()
