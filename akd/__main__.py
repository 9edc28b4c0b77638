from akd.cli import main

main()
