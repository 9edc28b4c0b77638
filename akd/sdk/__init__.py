"""Directory put first on ``sys.path`` in runners so ``import autokitteh`` finds akd's SDK."""
