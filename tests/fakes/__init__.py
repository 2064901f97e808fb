"""In-process fakes of outside services that tests talk to over real HTTP."""
