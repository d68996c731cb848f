from repromatrix.cli.main import main

raise SystemExit(main())
