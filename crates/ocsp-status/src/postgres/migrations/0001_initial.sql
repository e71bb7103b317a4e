-- ocsp schema version 1: issuers, certificate statuses with a commit-ordered
-- per-issuer generation, node reports, CRL numbers.

CREATE TABLE ocsp_issuer (
  id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text   NOT NULL UNIQUE,
  spki_sha256 bytea  NOT NULL CHECK (octet_length(spki_sha256) = 32),
  subject_der bytea  NOT NULL,
  cert_der    bytea  NOT NULL,
  generation  bigint NOT NULL DEFAULT 0,
  UNIQUE (spki_sha256, subject_der)
);

-- No FOREIGN KEY on issuer_id: a per-row constraint check costs more than the rest of a
-- bulk insert. ocsp_bump checks the issuer exists once per transaction instead (its
-- UPDATE of the issuer row finds it or raises), and issuers are never deleted.
CREATE TABLE ocsp_cert (
  issuer_id       integer NOT NULL,
  serial          bytea   NOT NULL CHECK (octet_length(serial) BETWEEN 1 AND 64),
  status          char(1) NOT NULL CHECK (status IN ('V', 'R', 'D')),
  not_before      timestamptz,
  not_after       timestamptz,
  revoked_at      timestamptz,
  reason          smallint CHECK (reason IN (0, 1, 2, 3, 4, 5, 6, 8, 9, 10)),
  invalidity_date timestamptz,
  cert_sha256     bytea CHECK (octet_length(cert_sha256) = 32),
  updated_gen     bigint  NOT NULL DEFAULT 0,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  updated_by      text    NOT NULL DEFAULT current_user,
  PRIMARY KEY (issuer_id, serial),
  CHECK ((status = 'R') = (revoked_at IS NOT NULL))
);
CREATE INDEX ocsp_cert_delta ON ocsp_cert (issuer_id, updated_gen);

-- One generation step per issuer per writing transaction. The UPDATE of the issuer row
-- holds its lock until commit, so generations commit in order: once generation G is
-- visible, every row with updated_gen <= G is committed and visible. The step also
-- queues one NOTIFY on channel ocsp_status with the issuer id as payload (delivered at
-- commit): a wake-up for listening nodes, never the source of truth.
CREATE FUNCTION ocsp_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  key text;
  v   text;
  g   bigint;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF NEW.issuer_id <> OLD.issuer_id OR NEW.serial <> OLD.serial THEN
      RAISE EXCEPTION 'ocsp_cert: issuer_id and serial never change (insert the new serial, mark the old one D)';
    END IF;
    IF NEW.status = OLD.status
       AND NEW.not_before IS NOT DISTINCT FROM OLD.not_before
       AND NEW.not_after IS NOT DISTINCT FROM OLD.not_after
       AND NEW.revoked_at IS NOT DISTINCT FROM OLD.revoked_at
       AND NEW.reason IS NOT DISTINCT FROM OLD.reason
       AND NEW.invalidity_date IS NOT DISTINCT FROM OLD.invalidity_date
       AND NEW.cert_sha256 IS NOT DISTINCT FROM OLD.cert_sha256 THEN
      RETURN NULL;  -- nothing changes: no row version, no generation step
    END IF;
  END IF;
  key := 'ocsp.gen_' || NEW.issuer_id;
  v := current_setting(key, true);
  IF v IS NULL OR v = '' OR split_part(v, ':', 1)::xid8 <> pg_current_xact_id() THEN
    UPDATE ocsp_issuer SET generation = generation + 1 WHERE id = NEW.issuer_id
      RETURNING generation INTO g;
    IF g IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
        MESSAGE = format('ocsp_cert: no issuer with id %s in ocsp_issuer', NEW.issuer_id);
    END IF;
    PERFORM set_config(key, pg_current_xact_id()::text || ':' || g, true);
    PERFORM pg_notify('ocsp_status', NEW.issuer_id::text);
  ELSE
    g := split_part(v, ':', 2)::bigint;
  END IF;
  NEW.updated_gen := g;
  NEW.updated_at := now();
  NEW.updated_by := current_user;
  RETURN NEW;
END $$;
CREATE TRIGGER ocsp_cert_bump BEFORE INSERT OR UPDATE ON ocsp_cert
  FOR EACH ROW EXECUTE FUNCTION ocsp_bump();

-- Deltas must see deletions: rows are never deleted, they become tombstones ('D').
CREATE RULE ocsp_cert_no_delete AS ON DELETE TO ocsp_cert DO INSTEAD NOTHING;
-- Issuers are never deleted either (their rows and generations are what nodes follow).
CREATE RULE ocsp_issuer_no_delete AS ON DELETE TO ocsp_issuer DO INSTEAD NOTHING;

-- Which generation each responder node has seen, for `ocsp revoke --wait` and `ocsp status`.
CREATE TABLE ocsp_node (
  node_id   text    NOT NULL,
  issuer_id integer NOT NULL REFERENCES ocsp_issuer (id),
  seen_gen  bigint  NOT NULL,
  seen_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (node_id, issuer_id)
);

-- Nodes write ocsp_node only through this function, so a responder's role needs no
-- INSERT or UPDATE on any table.
CREATE FUNCTION ocsp_node_report(node text, issuer integer, gen bigint) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  INSERT INTO public.ocsp_node (node_id, issuer_id, seen_gen, seen_at)
  VALUES (node, issuer, gen, now())
  ON CONFLICT (node_id, issuer_id)
  DO UPDATE SET seen_gen = excluded.seen_gen, seen_at = excluded.seen_at
$$;
REVOKE ALL ON FUNCTION ocsp_node_report(text, integer, bigint) FROM PUBLIC;

-- CRL numbers shared by every node issuing CRLs for an issuer (and shard).
CREATE TABLE ocsp_crl_number (
  issuer_id   integer NOT NULL REFERENCES ocsp_issuer (id),
  shard       integer NOT NULL DEFAULT 0,
  last_number numeric NOT NULL CHECK (last_number >= 0),
  PRIMARY KEY (issuer_id, shard)
);
