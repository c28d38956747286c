from homecheck.cli import main

raise SystemExit(main())
