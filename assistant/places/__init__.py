"""Places: from the town a business names to the areas the documents talk about.

    gazetteer.py  the gazetteer: town -> district -> county -> combined authority -> region -> nation
    load.py       building it from the ONS lookup tables and supplement.json
    context.py    what a question says about places, and what answers say about them
"""
