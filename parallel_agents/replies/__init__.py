"""What a child answered: extract the reply, repair what cannot change its meaning, validate it
against the schema. Imports: core, definitions."""
