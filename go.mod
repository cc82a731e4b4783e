module github.com/sandkasse/sandkasse

go 1.26
