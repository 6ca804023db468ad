-- 0003: look databases up by REST token, as every REST data API request does.

CREATE INDEX databases_rest_token ON databases (rest_token);
CREATE INDEX databases_read_only_rest_token ON databases (read_only_rest_token);
