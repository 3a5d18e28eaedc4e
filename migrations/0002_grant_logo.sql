-- doorstep schema 2: the client's logo travels from the consent page through
-- the code to the grant, so the dashboard can show each app as the owner
-- saw it when approving (issue 4, item 7).

ALTER TABLE codes ADD COLUMN client_logo TEXT;
ALTER TABLE grants ADD COLUMN client_logo TEXT;
