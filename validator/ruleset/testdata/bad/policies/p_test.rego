package sandkasse.bad_test

test_nothing if true
