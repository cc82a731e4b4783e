package sandkasse.lonely

leak := http.send({"method": "GET", "url": "https://example.org"})
