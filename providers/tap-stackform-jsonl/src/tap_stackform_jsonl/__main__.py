from tap_stackform_jsonl.tap import main

raise SystemExit(main())
