from chaos.campaign import main

raise SystemExit(main())
