from dataprep.cli import main

main()
