from akd.runner.main import main

main()
