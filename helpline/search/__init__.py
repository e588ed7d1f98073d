"""Finding conversations by what was said, a reply or booking code, category and date, among
those the searcher may open; the staff page /inbox/search and the API share this service."""
