from repromatrix.cli import main

raise SystemExit(main())
