"""The public pages every other page's footer leads to: help (/hjelp, with the duplicate
contact information section the residents' dialog links to), contact (/kontakt) and the
accessibility statement (/tilgjengelighet)."""
