from kafkatrade.cli import main

raise SystemExit(main())
