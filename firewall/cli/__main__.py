from firewall.cli import main

main()
