-- table alembic_version on alembic_version
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL,
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
-- table captures on captures
CREATE TABLE captures (
	id VARCHAR(32) NOT NULL,
	document_id INTEGER NOT NULL,
	crawl_id VARCHAR(36),
	source_url TEXT NOT NULL,
	canonical_url TEXT NOT NULL,
	site VARCHAR(255),
	site_name TEXT,
	title TEXT,
	authors JSON NOT NULL,
	published VARCHAR(32),
	language VARCHAR(16),
	tags JSON NOT NULL,
	description TEXT,
	word_count INTEGER NOT NULL,
	payload_sha256 VARCHAR(64) NOT NULL,
	text_sha256 VARCHAR(64) NOT NULL,
	source_kind VARCHAR(8) NOT NULL,
	source_location TEXT NOT NULL,
	captured_at VARCHAR(40) NOT NULL,
	archived_at VARCHAR(40),
	media_type VARCHAR(100) NOT NULL,
	encoding VARCHAR(64),
	http_status INTEGER,
	http_headers JSON NOT NULL,
	extractor VARCHAR(64) NOT NULL,
	extractor_version VARCHAR(32) NOT NULL,
	extractor_options JSON NOT NULL,
	project_version VARCHAR(32) NOT NULL,
	input_word_count INTEGER NOT NULL, previous_id VARCHAR(32), site_key VARCHAR(255), claimed_url TEXT, source_record_id VARCHAR(128), no_text TEXT,
	PRIMARY KEY (id),
	FOREIGN KEY(document_id) REFERENCES documents (id),
	FOREIGN KEY(crawl_id) REFERENCES crawls (id)
);
-- table crawl_problems on crawl_problems
CREATE TABLE crawl_problems (
	id INTEGER NOT NULL,
	crawl_id VARCHAR(36) NOT NULL,
	kind VARCHAR(8) NOT NULL,
	status SMALLINT,
	source TEXT NOT NULL,
	reason TEXT NOT NULL,
	at DATETIME NOT NULL,
	PRIMARY KEY (id)
);
-- table crawls on crawls
CREATE TABLE crawls (
	id VARCHAR(36) NOT NULL,
	kind VARCHAR(16) NOT NULL,
	started_at DATETIME NOT NULL,
	finished_at DATETIME,
	status VARCHAR(16) NOT NULL,
	args JSON NOT NULL,
	software VARCHAR(200) NOT NULL,
	counts JSON NOT NULL, owner VARCHAR(200), heartbeat_at DATETIME,
	PRIMARY KEY (id)
);
-- table document_bands on document_bands
CREATE TABLE document_bands (
	kind SMALLINT NOT NULL,
	band_key BIGINT NOT NULL,
	document_id INTEGER NOT NULL,
	PRIMARY KEY (kind, band_key, document_id),
	FOREIGN KEY(document_id) REFERENCES documents (id) ON DELETE CASCADE
);
-- table document_signatures on document_signatures
CREATE TABLE document_signatures (
	document_id INTEGER NOT NULL,
	shingles BLOB NOT NULL,
	story BLOB,
	PRIMARY KEY (document_id),
	FOREIGN KEY(document_id) REFERENCES documents (id) ON DELETE CASCADE
);
-- table documents on documents
CREATE TABLE documents (
	id INTEGER NOT NULL,
	text_sha256 VARCHAR(64) NOT NULL,
	title TEXT,
	text TEXT NOT NULL,
	word_count INTEGER NOT NULL,
	language VARCHAR(16),
	first_seen_at DATETIME NOT NULL, facets TEXT DEFAULT '' NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (text_sha256)
);
-- table documents_fts on documents_fts
CREATE VIRTUAL TABLE documents_fts USING fts5(title, text, facets, content='documents', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
-- table documents_fts_config on documents_fts_config
CREATE TABLE 'documents_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;
-- table documents_fts_data on documents_fts_data
CREATE TABLE 'documents_fts_data'(id INTEGER PRIMARY KEY, block BLOB);
-- table documents_fts_docsize on documents_fts_docsize
CREATE TABLE 'documents_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);
-- table documents_fts_idx on documents_fts_idx
CREATE TABLE 'documents_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;
-- table revisits on revisits
CREATE TABLE revisits (
	id INTEGER NOT NULL,
	capture_id VARCHAR(32) NOT NULL,
	crawl_id VARCHAR(36),
	url TEXT NOT NULL,
	captured_at VARCHAR(40) NOT NULL,
	profile VARCHAR(32) NOT NULL,
	record_id VARCHAR(100) NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(capture_id) REFERENCES captures (id) ON DELETE CASCADE,
	FOREIGN KEY(crawl_id) REFERENCES crawls (id)
);
-- table site_lines on site_lines
CREATE TABLE site_lines (
	site VARCHAR(255) NOT NULL,
	line_key VARCHAR(16) NOT NULL,
	urls INTEGER NOT NULL,
	PRIMARY KEY (site, line_key)
);
-- table site_pages on site_pages
CREATE TABLE site_pages (
	site VARCHAR(255) NOT NULL,
	url_key VARCHAR(16) NOT NULL,
	PRIMARY KEY (site, url_key)
);
-- table term_documents on term_documents
CREATE TABLE "term_documents" (term INTEGER NOT NULL, documents INTEGER NOT NULL, PRIMARY KEY (term));
-- table warc_records on warc_records
CREATE TABLE warc_records (
	id INTEGER NOT NULL,
	capture_id VARCHAR(32) NOT NULL,
	role VARCHAR(16) NOT NULL,
	file TEXT NOT NULL,
	"offset" BIGINT NOT NULL,
	length BIGINT NOT NULL,
	record_id VARCHAR(100) NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_warc_records_capture_role UNIQUE (capture_id, role),
	FOREIGN KEY(capture_id) REFERENCES captures (id) ON DELETE CASCADE
);
-- index ix_captures_canonical_url on captures
CREATE INDEX ix_captures_canonical_url ON captures (canonical_url);
-- index ix_captures_captured_at on captures
CREATE INDEX ix_captures_captured_at ON captures (captured_at);
-- index ix_captures_crawl_id on captures
CREATE INDEX ix_captures_crawl_id ON captures (crawl_id);
-- index ix_captures_document_id on captures
CREATE INDEX ix_captures_document_id ON captures (document_id);
-- index ix_captures_payload_sha256 on captures
CREATE INDEX ix_captures_payload_sha256 ON captures (payload_sha256);
-- index ix_captures_published on captures
CREATE INDEX ix_captures_published ON captures (published);
-- index ix_captures_site on captures
CREATE INDEX ix_captures_site ON captures (site);
-- index ix_captures_site_key on captures
CREATE INDEX ix_captures_site_key ON captures (site_key, captured_at);
-- index ix_captures_source_url on captures
CREATE INDEX ix_captures_source_url ON captures (source_url);
-- index ix_crawl_problems_crawl_id on crawl_problems
CREATE INDEX ix_crawl_problems_crawl_id ON crawl_problems (crawl_id);
-- index ix_document_bands_document_id on document_bands
CREATE INDEX ix_document_bands_document_id ON document_bands (document_id);
-- index ix_revisits_capture_id on revisits
CREATE INDEX ix_revisits_capture_id ON revisits (capture_id);
-- index ix_warc_records_file on warc_records
CREATE INDEX ix_warc_records_file ON warc_records (file);
-- index sqlite_autoindex_alembic_version_1 on alembic_version
-- (made by SQLite for a PRIMARY KEY or UNIQUE constraint)
-- index sqlite_autoindex_captures_1 on captures
-- (made by SQLite for a PRIMARY KEY or UNIQUE constraint)
-- index sqlite_autoindex_crawls_1 on crawls
-- (made by SQLite for a PRIMARY KEY or UNIQUE constraint)
-- index sqlite_autoindex_document_bands_1 on document_bands
-- (made by SQLite for a PRIMARY KEY or UNIQUE constraint)
-- index sqlite_autoindex_documents_1 on documents
-- (made by SQLite for a PRIMARY KEY or UNIQUE constraint)
-- index sqlite_autoindex_site_lines_1 on site_lines
-- (made by SQLite for a PRIMARY KEY or UNIQUE constraint)
-- index sqlite_autoindex_site_pages_1 on site_pages
-- (made by SQLite for a PRIMARY KEY or UNIQUE constraint)
-- index sqlite_autoindex_warc_records_1 on warc_records
-- (made by SQLite for a PRIMARY KEY or UNIQUE constraint)
-- index uq_revisits_visit on revisits
CREATE UNIQUE INDEX uq_revisits_visit ON revisits (url, captured_at);
-- trigger documents_fts_delete on documents
CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents BEGIN INSERT INTO documents_fts(documents_fts, rowid, title, text, facets) VALUES ('delete', old.id, old.title, old.text, old.facets); END;
-- trigger documents_fts_insert on documents
CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents BEGIN INSERT INTO documents_fts(rowid, title, text, facets) VALUES (new.id, new.title, new.text, new.facets); END;
-- trigger documents_fts_update on documents
CREATE TRIGGER documents_fts_update AFTER UPDATE ON documents BEGIN INSERT INTO documents_fts(documents_fts, rowid, title, text, facets) VALUES ('delete', old.id, old.title, old.text, old.facets); INSERT INTO documents_fts(rowid, title, text, facets) VALUES (new.id, new.title, new.text, new.facets); END;
