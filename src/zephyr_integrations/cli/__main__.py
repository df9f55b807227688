from zephyr_integrations.cli import main

main()
