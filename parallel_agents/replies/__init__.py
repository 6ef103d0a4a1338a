"""What a child answered: extract the reply (extract), repair what cannot change its meaning
(repair), validate it against the schema (validate). Imports: core, definitions, openclaw."""
