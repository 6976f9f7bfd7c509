from target_stackform_duckdb.target import main

raise SystemExit(main())
