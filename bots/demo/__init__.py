"""The local demo city: a Synapse on loopback and its provisioning (`make up`, tests)."""
