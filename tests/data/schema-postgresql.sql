CREATE TABLE alembic_version (
    version_num character varying(32) NOT NULL
);
ALTER TABLE alembic_version ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);

CREATE TABLE captures (
    id character varying(32) NOT NULL,
    document_id integer NOT NULL,
    crawl_id character varying(36),
    source_url text NOT NULL,
    canonical_url text NOT NULL,
    site character varying(255),
    site_name text,
    title text,
    authors json NOT NULL,
    published character varying(32),
    language character varying(16),
    tags json NOT NULL,
    description text,
    word_count integer NOT NULL,
    payload_sha256 character varying(64) NOT NULL,
    text_sha256 character varying(64) NOT NULL,
    source_kind character varying(8) NOT NULL,
    source_location text NOT NULL,
    captured_at character varying(40) NOT NULL,
    archived_at character varying(40),
    media_type character varying(100) NOT NULL,
    encoding character varying(64),
    http_status integer,
    http_headers json NOT NULL,
    extractor character varying(64) NOT NULL,
    extractor_version character varying(32) NOT NULL,
    extractor_options json NOT NULL,
    project_version character varying(32) NOT NULL,
    input_word_count integer NOT NULL,
    previous_id character varying(32),
    site_key character varying(255) COLLATE "C",
    claimed_url text,
    source_record_id character varying(128),
    no_text text
);
ALTER TABLE captures ADD CONSTRAINT captures_crawl_id_fkey FOREIGN KEY (crawl_id) REFERENCES crawls(id);
ALTER TABLE captures ADD CONSTRAINT captures_document_id_fkey FOREIGN KEY (document_id) REFERENCES documents(id);
ALTER TABLE captures ADD CONSTRAINT captures_pkey PRIMARY KEY (id);

CREATE TABLE crawl_problems (
    id integer NOT NULL DEFAULT nextval('crawl_problems_id_seq'::regclass),
    crawl_id character varying(36) NOT NULL,
    kind character varying(8) NOT NULL,
    status smallint,
    source text NOT NULL,
    reason text NOT NULL,
    at timestamp with time zone NOT NULL
);
ALTER TABLE crawl_problems ADD CONSTRAINT crawl_problems_pkey PRIMARY KEY (id);

CREATE TABLE crawls (
    id character varying(36) NOT NULL,
    kind character varying(16) NOT NULL,
    started_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone,
    status character varying(16) NOT NULL,
    args json NOT NULL,
    software character varying(200) NOT NULL,
    counts json NOT NULL,
    owner character varying(200),
    heartbeat_at timestamp with time zone
);
ALTER TABLE crawls ADD CONSTRAINT crawls_pkey PRIMARY KEY (id);

CREATE TABLE document_bands (
    kind smallint NOT NULL,
    band_key bigint NOT NULL,
    document_id integer NOT NULL
);
ALTER TABLE document_bands ADD CONSTRAINT document_bands_document_id_fkey FOREIGN KEY (document_id) REFERENCES documents(id) ON DELETE CASCADE;
ALTER TABLE document_bands ADD CONSTRAINT document_bands_pkey PRIMARY KEY (kind, band_key, document_id);

CREATE TABLE document_signatures (
    document_id integer NOT NULL,
    shingles bytea NOT NULL,
    story bytea
);
ALTER TABLE document_signatures ADD CONSTRAINT document_signatures_document_id_fkey FOREIGN KEY (document_id) REFERENCES documents(id) ON DELETE CASCADE;
ALTER TABLE document_signatures ADD CONSTRAINT document_signatures_pkey PRIMARY KEY (document_id);

CREATE TABLE documents (
    id integer NOT NULL DEFAULT nextval('documents_id_seq'::regclass),
    text_sha256 character varying(64) NOT NULL,
    title text,
    text text NOT NULL,
    word_count integer NOT NULL,
    language character varying(16),
    first_seen_at timestamp with time zone NOT NULL,
    search tsvector GENERATED ALWAYS AS ((setweight(to_tsvector(
CASE language
    WHEN 'da'::text THEN 'danish'::regconfig
    WHEN 'de'::text THEN 'german'::regconfig
    WHEN 'en'::text THEN 'english'::regconfig
    WHEN 'es'::text THEN 'spanish'::regconfig
    WHEN 'fi'::text THEN 'finnish'::regconfig
    WHEN 'fr'::text THEN 'french'::regconfig
    WHEN 'hu'::text THEN 'hungarian'::regconfig
    WHEN 'it'::text THEN 'italian'::regconfig
    WHEN 'nl'::text THEN 'dutch'::regconfig
    WHEN 'no'::text THEN 'norwegian'::regconfig
    WHEN 'pt'::text THEN 'portuguese'::regconfig
    WHEN 'ro'::text THEN 'romanian'::regconfig
    WHEN 'ru'::text THEN 'russian'::regconfig
    WHEN 'sv'::text THEN 'swedish'::regconfig
    WHEN 'tr'::text THEN 'turkish'::regconfig
    ELSE 'simple'::regconfig
END, COALESCE(title, ''::text)), 'A'::"char") || setweight(to_tsvector(
CASE language
    WHEN 'da'::text THEN 'danish'::regconfig
    WHEN 'de'::text THEN 'german'::regconfig
    WHEN 'en'::text THEN 'english'::regconfig
    WHEN 'es'::text THEN 'spanish'::regconfig
    WHEN 'fi'::text THEN 'finnish'::regconfig
    WHEN 'fr'::text THEN 'french'::regconfig
    WHEN 'hu'::text THEN 'hungarian'::regconfig
    WHEN 'it'::text THEN 'italian'::regconfig
    WHEN 'nl'::text THEN 'dutch'::regconfig
    WHEN 'no'::text THEN 'norwegian'::regconfig
    WHEN 'pt'::text THEN 'portuguese'::regconfig
    WHEN 'ro'::text THEN 'romanian'::regconfig
    WHEN 'ru'::text THEN 'russian'::regconfig
    WHEN 'sv'::text THEN 'swedish'::regconfig
    WHEN 'tr'::text THEN 'turkish'::regconfig
    ELSE 'simple'::regconfig
END, text), 'B'::"char"))) STORED,
    facets text NOT NULL DEFAULT ''::text
);
ALTER TABLE documents ADD CONSTRAINT documents_pkey PRIMARY KEY (id);
ALTER TABLE documents ADD CONSTRAINT documents_text_sha256_key UNIQUE (text_sha256);

CREATE TABLE revisits (
    id integer NOT NULL DEFAULT nextval('revisits_id_seq'::regclass),
    capture_id character varying(32) NOT NULL,
    crawl_id character varying(36),
    url text NOT NULL,
    captured_at character varying(40) NOT NULL,
    profile character varying(32) NOT NULL,
    record_id character varying(100) NOT NULL
);
ALTER TABLE revisits ADD CONSTRAINT revisits_capture_id_fkey FOREIGN KEY (capture_id) REFERENCES captures(id) ON DELETE CASCADE;
ALTER TABLE revisits ADD CONSTRAINT revisits_crawl_id_fkey FOREIGN KEY (crawl_id) REFERENCES crawls(id);
ALTER TABLE revisits ADD CONSTRAINT revisits_pkey PRIMARY KEY (id);

CREATE TABLE site_lines (
    site character varying(255) NOT NULL,
    line_key character varying(16) NOT NULL,
    urls integer NOT NULL
);
ALTER TABLE site_lines ADD CONSTRAINT site_lines_pkey PRIMARY KEY (site, line_key);

CREATE TABLE site_pages (
    site character varying(255) NOT NULL,
    url_key character varying(16) NOT NULL
);
ALTER TABLE site_pages ADD CONSTRAINT site_pages_pkey PRIMARY KEY (site, url_key);

CREATE TABLE term_documents (
    term bigint NOT NULL,
    documents integer NOT NULL
);
ALTER TABLE term_documents ADD CONSTRAINT term_documents_pkey PRIMARY KEY (term);

CREATE TABLE warc_records (
    id integer NOT NULL DEFAULT nextval('warc_records_id_seq'::regclass),
    capture_id character varying(32) NOT NULL,
    role character varying(16) NOT NULL,
    file text NOT NULL,
    "offset" bigint NOT NULL,
    length bigint NOT NULL,
    record_id character varying(100) NOT NULL
);
ALTER TABLE warc_records ADD CONSTRAINT uq_warc_records_capture_role UNIQUE (capture_id, role);
ALTER TABLE warc_records ADD CONSTRAINT warc_records_capture_id_fkey FOREIGN KEY (capture_id) REFERENCES captures(id) ON DELETE CASCADE;
ALTER TABLE warc_records ADD CONSTRAINT warc_records_pkey PRIMARY KEY (id);

CREATE UNIQUE INDEX alembic_version_pkc ON alembic_version USING btree (version_num);
CREATE UNIQUE INDEX captures_pkey ON captures USING btree (id);
CREATE INDEX ix_captures_canonical_url ON captures USING btree (canonical_url);
CREATE INDEX ix_captures_captured_at ON captures USING btree (captured_at);
CREATE INDEX ix_captures_crawl_id ON captures USING btree (crawl_id);
CREATE INDEX ix_captures_document_id ON captures USING btree (document_id);
CREATE INDEX ix_captures_payload_sha256 ON captures USING btree (payload_sha256);
CREATE INDEX ix_captures_published ON captures USING btree (published);
CREATE INDEX ix_captures_site ON captures USING btree (site);
CREATE INDEX ix_captures_site_key ON captures USING btree (site_key, captured_at);
CREATE INDEX ix_captures_source_url ON captures USING btree (source_url);
CREATE UNIQUE INDEX crawl_problems_pkey ON crawl_problems USING btree (id);
CREATE INDEX ix_crawl_problems_crawl_id ON crawl_problems USING btree (crawl_id);
CREATE UNIQUE INDEX crawls_pkey ON crawls USING btree (id);
CREATE UNIQUE INDEX document_bands_pkey ON document_bands USING btree (kind, band_key, document_id);
CREATE INDEX ix_document_bands_document_id ON document_bands USING btree (document_id);
CREATE UNIQUE INDEX document_signatures_pkey ON document_signatures USING btree (document_id);
CREATE UNIQUE INDEX documents_pkey ON documents USING btree (id);
CREATE UNIQUE INDEX documents_text_sha256_key ON documents USING btree (text_sha256);
CREATE INDEX ix_documents_facets ON documents USING gin (string_to_array(facets, ' '::text));
CREATE INDEX ix_documents_search ON documents USING gin (search);
CREATE INDEX ix_revisits_capture_id ON revisits USING btree (capture_id);
CREATE UNIQUE INDEX revisits_pkey ON revisits USING btree (id);
CREATE UNIQUE INDEX uq_revisits_visit ON revisits USING btree (url, captured_at);
CREATE UNIQUE INDEX site_lines_pkey ON site_lines USING btree (site, line_key);
CREATE UNIQUE INDEX site_pages_pkey ON site_pages USING btree (site, url_key);
CREATE UNIQUE INDEX term_documents_pkey ON term_documents USING btree (term);
CREATE INDEX ix_warc_records_file ON warc_records USING btree (file);
CREATE UNIQUE INDEX uq_warc_records_capture_role ON warc_records USING btree (capture_id, role);
CREATE UNIQUE INDEX warc_records_pkey ON warc_records USING btree (id);

CREATE SEQUENCE crawl_problems_id_seq AS integer START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 2147483647 OWNED BY crawl_problems.id;
CREATE SEQUENCE documents_id_seq AS integer START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 2147483647 OWNED BY documents.id;
CREATE SEQUENCE revisits_id_seq AS integer START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 2147483647 OWNED BY revisits.id;
CREATE SEQUENCE warc_records_id_seq AS integer START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 2147483647 OWNED BY warc_records.id;
