from pengaduan.cli import main

main()
