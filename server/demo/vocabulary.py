"""The words the demo company is made of: places, people, customers, catalog and equipment.

A foodservice equipment distributor in the US Midwest: reps sell equipment and supplies to
restaurants, hotels, hospitals and schools; technicians service the equipment installed there.
Phone numbers use the 555-01xx block reserved for fiction; domains end in `.example`.
"""

from __future__ import annotations

from typing import NamedTuple


class City(NamedTuple):
    name: str
    latitude: float
    longitude: float
    zip_prefix: str
    area_code: str


class TerritoryWords(NamedTuple):
    code: str
    name: str
    region: str
    cities: tuple[City, ...]


TERRITORIES = (
    TerritoryWords("CHI", "Chicago Metro", "Illinois", (
        City("Chicago", 41.8781, -87.6298, "606", "312"),
        City("Evanston", 42.0451, -87.6877, "602", "847"),
        City("Oak Park", 41.8850, -87.7845, "603", "708"),
        City("Naperville", 41.7508, -88.1535, "605", "630"),
        City("Schaumburg", 42.0334, -88.0834, "601", "847"),
    )),
    TerritoryWords("WIS", "Wisconsin", "Wisconsin", (
        City("Milwaukee", 43.0389, -87.9065, "532", "414"),
        City("Madison", 43.0731, -89.4012, "537", "608"),
        City("Green Bay", 44.5133, -88.0133, "543", "920"),
        City("Kenosha", 42.5847, -87.8212, "531", "262"),
    )),
    TerritoryWords("MICH", "Michigan", "Michigan", (
        City("Detroit", 42.3314, -83.0458, "482", "313"),
        City("Ann Arbor", 42.2808, -83.7430, "481", "734"),
        City("Grand Rapids", 42.9634, -85.6681, "495", "616"),
        City("Lansing", 42.7325, -84.5555, "489", "517"),
    )),
    TerritoryWords("IND", "Indiana", "Indiana", (
        City("Indianapolis", 39.7684, -86.1581, "462", "317"),
        City("Fort Wayne", 41.0793, -85.1394, "468", "260"),
        City("Bloomington", 39.1653, -86.5264, "474", "812"),
        City("South Bend", 41.6764, -86.2520, "466", "574"),
    )),
    TerritoryWords("STL", "Gateway", "Missouri and Southern Illinois", (
        City("St. Louis", 38.6270, -90.1994, "631", "314"),
        City("Kansas City", 39.0997, -94.5786, "641", "816"),
        City("Springfield", 39.7817, -89.6501, "627", "217"),
        City("Columbia", 38.9517, -92.3341, "652", "573"),
    )),
)

FIRST_NAMES = (
    "Maria", "James", "Aisha", "Daniel", "Mei", "Robert", "Priya", "Michael", "Sofia", "David",
    "Fatima", "Kevin", "Elena", "Marcus", "Hannah", "Luis", "Grace", "Tyrone", "Olivia",
    "Andre", "Chloe", "Brian", "Yuki", "Samuel", "Nadia", "Carlos", "Emily", "Jamal", "Anna",
    "Thomas", "Rosa", "Patrick", "Leila", "Victor", "Megan", "Omar", "Julia", "Derek", "Ines",
    "Nathan", "Keisha", "Ryan", "Lucia", "Ahmed", "Sarah", "Miguel", "Tara", "Jonah", "Amara",
    "Eric", "Hye-jin", "Gabriel", "Monica", "Dmitri", "Erin", "Kwame", "Laura", "Tomas",
)

LAST_NAMES = (
    "Gonzalez", "Kowalski", "Nguyen", "Johnson", "Okafor", "Schmidt", "Patel", "Murphy", "Kim",
    "Rodriguez", "Novak", "Washington", "Haddad", "Larsen", "Brooks", "Chen", "Olson",
    "Jackson", "Rossi", "Petersen", "Ramirez", "Sullivan", "Ali", "Fischer", "Moore", "Lopez",
    "Wisniewski", "Thompson", "Hoffman", "Baker", "Singh", "Anderson", "Martinez", "Becker",
    "Hughes", "Nowak", "Reyes", "Jensen", "Walker", "Morales", "Kaminski", "Harris", "Yilmaz",
    "Price", "Dubois", "Carter", "Ortiz", "Lindqvist", "Young", "Mensah", "Bauer", "Grant",
    "Romano", "Mitchell", "Castillo", "Stewart", "Ivanova", "Foster", "Park", "Bennett",
)

STREETS = (
    "Main St", "Oak Ave", "Lake St", "Washington Blvd", "Michigan Ave", "Elm St", "Maple Ave",
    "Park Rd", "Grand Ave", "State St", "Madison St", "Jefferson Ave", "Lincoln Ave",
    "Cedar Ln", "Pine St", "Walnut St", "Industrial Pkwy", "Commerce Dr", "Market St",
    "River Rd", "Highland Ave", "Franklin St", "Church St", "Broadway", "2nd St", "5th Ave",
    "University Ave", "Prairie Ave", "Division St", "Harbor Dr", "Depot St", "Mill Rd",
)

ADJECTIVES = (
    "Golden", "Rustic", "Blue", "Copper", "Silver", "Green", "Red", "Harvest", "Prairie",
    "Lakeside", "Northern", "Old Town", "Urban", "Maple", "Iron", "Little", "Twin", "Sunny",
)
NOUNS = (
    "Spoon", "Fork", "Kettle", "Oak", "Lantern", "Table", "Barrel", "Hearth", "Anchor",
    "Orchard", "Mill", "Skillet", "Pine", "Harbor", "Bridge", "Ember", "Meadow", "Crow",
)
SAINTS = ("St. Mary's", "St. Luke's", "St. Joseph", "Mercy", "Sacred Heart", "Good Samaritan")

# Customer kind -> (weight, name patterns, equipment kinds found there)
CUSTOMER_KINDS = {
    "restaurant": (34, ("The {adj} {noun}", "{last}'s Diner", "{adj} {noun} Grill",
                        "{last}'s Steakhouse", "Trattoria {last}", "{city} Taqueria"),
                   ("ice_machine", "walk_in", "fryer", "combi_oven", "dishwasher")),
    "cafe": (12, ("{adj} Bean Cafe", "{noun} & Cup", "Cafe {last}"),
             ("espresso", "reach_in", "ice_machine")),
    "hotel": (9, ("{city} {noun} Hotel", "The {last} Inn", "{adj} {noun} Suites"),
              ("ice_machine", "walk_in", "dishwasher", "combi_oven")),
    "hospital": (5, ("{saint} Medical Center", "{city} Community Hospital"),
                 ("walk_in", "dishwasher", "combi_oven", "reach_in")),
    "school": (8, ("{last} High School", "{city} Elementary School", "{last} College Dining"),
               ("walk_in", "dishwasher", "convection_oven")),
    "grocery": (12, ("{last}'s Market", "{adj} Foods", "{city} Fresh Market"),
                ("walk_in", "reach_in", "ice_machine")),
    "bakery": (8, ("{last}'s Bakery", "{adj} Crust Bakery"),
               ("mixer", "convection_oven", "reach_in")),
    "catering": (6, ("{last} Catering Co.", "{adj} {noun} Events"),
                 ("combi_oven", "walk_in", "dishwasher")),
    "brewery": (6, ("{adj} {noun} Brewing Co.", "{noun} & {noun2} Taproom"),
                ("walk_in", "ice_machine", "fryer")),
}

CONTACT_TITLES = (
    "Owner", "General Manager", "Kitchen Manager", "Executive Chef", "Facilities Manager",
    "Purchasing Manager", "Maintenance Supervisor", "Food Service Director", "Sous Chef",
)

ACCOUNT_NOTES = (
    "Deliveries through the back door before 10am.", "Closed on Mondays.",
    "Prefers invoices by email.", "Parking behind the building; ring the service bell.",
    "Net 30 terms approved.", "Ask for the kitchen manager, not the front desk.",
    "Busy 11:30-14:00: avoid visits over lunch.", "Seasonal patio: volume peaks in summer.",
)


class EquipmentKind(NamedTuple):
    label: str
    models: tuple[str, ...]
    serial_prefix: str
    problems: tuple[str, ...]
    checklist: tuple[str, ...]


EQUIPMENT = {
    "ice_machine": EquipmentKind(
        "Ice machine", ("Arctica IM-300", "Arctica IM-500", "Polar Crest PC-650"), "ICM",
        ("Ice machine not making ice", "Ice machine leaking water", "Cubes small and cloudy"),
        ("Check water filter and replace if due", "Clean and sanitize the bin",
         "Descale the evaporator", "Inspect the water inlet valve", "Record harvest cycle time"),
    ),
    "walk_in": EquipmentKind(
        "Walk-in cooler", ("ColdRoom WC-8x10", "ColdRoom WC-10x12", "Northfield WK-200"), "WIC",
        ("Walk-in cooler running warm", "Evaporator fan noisy", "Door not sealing"),
        ("Record box temperature", "Check refrigerant pressures", "Clean condenser coil",
         "Inspect door gasket and heater wire", "Test defrost cycle", "Check evaporator drain"),
    ),
    "reach_in": EquipmentKind(
        "Reach-in refrigerator", ("Northfield R1-23", "Northfield R2-49", "Glacier GR-2D"),
        "RIR",
        ("Reach-in not holding temperature", "Compressor short cycling", "Door gasket torn"),
        ("Record cabinet temperature", "Clean condenser coil", "Inspect door gaskets",
         "Verify thermostat calibration"),
    ),
    "combi_oven": EquipmentKind(
        "Combi oven", ("Vapora CX-6", "Vapora CX-10", "Vapora CX-20"), "CMB",
        ("Combi oven error E34 (steam generator)", "Combi oven door leaking steam",
         "Core probe reading wrong"),
        ("Run descaling program", "Inspect door gasket", "Check steam generator level probe",
         "Calibrate core temperature probe", "Clean fan wheel and baffle"),
    ),
    "dishwasher": EquipmentKind(
        "Dishwasher", ("Cleanline DT-80", "Cleanline UC-40", "Cleanline CV-180"), "DSH",
        ("Dishwasher not reaching rinse temperature", "Wash pump leaking", "Poor wash results"),
        ("Verify final rinse at 180F", "Check chemical dosing", "Clean wash and rinse arms",
         "Inspect curtains and door seals", "Delime the tank"),
    ),
    "fryer": EquipmentKind(
        "Fryer", ("Blazeline F-40", "Blazeline F-50"), "FRY",
        ("Fryer not heating", "Pilot keeps going out", "Oil temperature overshoots"),
        ("Check gas pressure", "Calibrate thermostat", "Inspect thermopile and pilot",
         "Check high-limit safety"),
    ),
    "convection_oven": EquipmentKind(
        "Convection oven", ("Vapora CV-1", "Vapora CV-2 double stack"), "CNV",
        ("Convection oven uneven baking", "Oven fan motor loud"),
        ("Calibrate thermostat", "Inspect fan motor and wheel", "Check door switch"),
    ),
    "mixer": EquipmentKind(
        "Planetary mixer", ("Forge PM-20", "Forge PM-60"), "MIX",
        ("Mixer grinding in gear", "Mixer will not start"),
        ("Inspect drive belt", "Check bowl lift", "Test safety guard interlock"),
    ),
    "espresso": EquipmentKind(
        "Espresso machine", ("Crema Duo 2G", "Crema Trio 3G"), "ESP",
        ("Espresso machine low pressure", "Steam wand weak"),
        ("Replace group gaskets", "Backflush groups", "Check boiler pressure",
         "Descale boiler"),
    ),
}

PREVENTIVE = "Preventive maintenance: {label}"

# Product catalog: (category, name, unit, low price, high price, variants)
PRODUCTS = (
    ("CHM", "Warewash detergent", "case", 48, 95, ("1 gal x4", "5 gal pail")),
    ("CHM", "Rinse aid", "case", 42, 88, ("1 gal x4", "5 gal pail")),
    ("CHM", "Quaternary sanitizer", "case", 35, 70, ("1 gal x4", "2.5 gal x2")),
    ("CHM", "Lime and scale remover", "case", 38, 76, ("1 gal x4",)),
    ("CHM", "Pot and pan detergent", "case", 30, 60, ("1 gal x4",)),
    ("CHM", "Oven and grill cleaner", "case", 36, 64, ("32 oz x12",)),
    ("CHM", "Combi oven cleaning tabs", "box", 85, 140, ("100 ct",)),
    ("CHM", "Ice machine cleaner", "case", 40, 72, ("16 oz x6",)),
    ("CHM", "Hand soap", "case", 35, 65, ("foam 1000 ml x6",)),
    ("CHM", "Degreasing floor cleaner", "case", 30, 58, ("1 gal x4",)),
    ("FLT", "Water filter cartridge", "each", 55, 180, ("IM-300", "IM-500", "PC-650",
                                                           "combi", "espresso")),
    ("FLT", "Scale inhibitor cartridge", "each", 40, 90, ("ice machine", "dishwasher")),
    ("FLT", "Fryer oil filter paper", "box", 45, 90, ("F-40 100 ct", "F-50 100 ct")),
    ("PAN", "Hotel pan, stainless", "each", 9, 38, ("full 2.5in", "full 4in", "full 6in",
                                                     "1/2 2.5in", "1/2 4in", "1/2 6in",
                                                     "1/3 4in", "1/3 6in", "1/6 4in",
                                                     "1/6 6in", "1/9 4in")),
    ("PAN", "Sheet pan, aluminum", "each", 8, 24, ("full", "half", "quarter")),
    ("PAN", "Food storage container", "each", 6, 26, ("2 qt", "4 qt", "6 qt", "8 qt",
                                                       "12 qt", "22 qt")),
    ("PAN", "Container lid", "each", 2, 8, ("2-4 qt", "6-8 qt", "12-22 qt")),
    ("UTN", "Cutting board", "each", 14, 32, ("white", "red", "green", "yellow", "blue",
                                              "brown")),
    ("UTN", "Tongs, stainless", "each", 3, 9, ("9in", "12in", "16in")),
    ("UTN", "Ladle", "each", 4, 14, ("2 oz", "4 oz", "6 oz", "8 oz")),
    ("UTN", "Whisk, piano", "each", 6, 18, ("10in", "14in", "18in")),
    ("UTN", "Chef knife", "each", 24, 95, ("8in", "10in")),
    ("UTN", "Digital probe thermometer", "each", 18, 45, ("standard", "waterproof")),
    ("UTN", "Portion scale", "each", 35, 120, ("5 lb", "11 lb")),
    ("UTN", "Turner spatula", "each", 5, 16, ("4x8", "3x5 perforated")),
    ("UTN", "Measuring cup set", "each", 12, 30, ("1-4 cup",)),
    ("UTN", "Fry basket", "each", 18, 40, ("F-40 twin", "F-50 full")),
    ("UTN", "Bus tub", "each", 6, 14, ("gray", "black")),
    ("UTN", "Pizza pan", "each", 6, 15, ("12in", "14in", "16in")),
    ("UTN", "Dish rack", "each", 14, 30, ("flat", "peg", "cup 16-comp", "glass 25-comp")),
    ("DSP", "Nitrile gloves", "case", 65, 120, ("S", "M", "L", "XL")),
    ("DSP", "Deli container", "case", 38, 70, ("8 oz", "16 oz", "32 oz")),
    ("DSP", "Foil sheet", "case", 28, 55, ("12x10.75", "14x10.75")),
    ("DSP", "Paper towel", "case", 30, 55, ("roll 8in x 600ft", "multifold")),
    ("DSP", "Takeout container", "case", 45, 90, ("9x9 hinged", "8x8 3-comp", "6x6 hinged")),
    ("DSP", "Hot cup", "case", 40, 80, ("8 oz", "12 oz", "16 oz")),
    ("DSP", "Hot cup lid", "case", 25, 50, ("8 oz", "12-16 oz")),
    ("DSP", "Trash liner", "case", 28, 60, ("33 gal", "45 gal", "55 gal")),
    ("DSP", "Parchment liner", "case", 32, 58, ("full sheet", "half sheet")),
    ("EQP", "Ice machine", "each", 2600, 6900, ("IM-300", "IM-500", "PC-650")),
    ("EQP", "Reach-in refrigerator", "each", 2400, 5600, ("R1-23", "R2-49", "GR-2D")),
    ("EQP", "Reach-in freezer", "each", 2700, 6100, ("F1-23", "F2-49")),
    ("EQP", "Combi oven", "each", 9800, 26500, ("CX-6", "CX-10", "CX-20")),
    ("EQP", "Convection oven", "each", 4200, 9400, ("CV-1", "CV-2 double stack")),
    ("EQP", "Gas fryer", "each", 1400, 3300, ("F-40", "F-50")),
    ("EQP", "Flat-top griddle", "each", 1600, 3900, ("24in", "36in", "48in")),
    ("EQP", "Dishwasher", "each", 5200, 21500, ("UC-40 undercounter", "DT-80 door type",
                                                 "CV-180 conveyor")),
    ("EQP", "Planetary mixer", "each", 3100, 11800, ("PM-20", "PM-60")),
    ("EQP", "Espresso machine", "each", 7800, 16400, ("Duo 2G", "Trio 3G")),
    ("EQP", "High-performance blender", "each", 420, 1100, ("48 oz", "64 oz")),
    ("EQP", "Food slicer", "each", 1200, 3400, ("10in", "12in", "13in")),
    ("EQP", "Prep table, refrigerated", "each", 2300, 4800, ("48in", "60in", "72in")),
    ("EQP", "Work table, stainless", "each", 260, 640, ("30x48", "30x60", "30x72",
                                                         "30x96")),
    ("EQP", "Wire shelving unit", "each", 180, 420, ("18x48", "24x48", "24x60")),
    ("SVC", "Preventive maintenance plan", "each", 480, 1900, ("refrigeration annual",
                                                                "cooking annual",
                                                                "warewash annual")),
    ("SVC", "Installation and start-up", "each", 250, 1200, ("countertop", "floor model",
                                                              "walk-in")),
)

# Parts catalog: (family, name, low cost, high cost, variants)
PARTS = (
    ("RF", "Compressor", 240, 720, ("1/3 HP R-290", "1/2 HP R-290", "3/4 HP R-404A",
                                    "1 HP R-404A")),
    ("RF", "Condenser fan motor", 48, 140, ("9W", "16W", "1/15 HP")),
    ("RF", "Evaporator fan motor", 55, 160, ("9W", "ECM 12W", "1/20 HP")),
    ("RF", "Evaporator fan blade", 8, 22, ("6in", "8in", "10in")),
    ("RF", "Thermostat", 35, 95, ("reach-in", "walk-in", "ice machine bin")),
    ("RF", "Temperature sensor", 18, 60, ("NTC 10k", "air probe", "coil probe")),
    ("RF", "Defrost timer", 40, 85, ("8-20-8",)),
    ("RF", "Filter drier", 9, 28, ("1/4 flare", "3/8 sweat")),
    ("RF", "Expansion valve", 70, 190, ("R-290", "R-404A")),
    ("RF", "Solenoid valve", 38, 110, ("liquid line", "hot gas")),
    ("RF", "Door gasket", 32, 120, ("R1 door", "R2 door", "walk-in 36x78", "GR-2D")),
    ("RF", "Door heater wire", 24, 70, ("walk-in",)),
    ("IM", "Water inlet valve", 42, 110, ("IM-300", "IM-500/PC-650")),
    ("IM", "Water pump", 60, 150, ("IM series", "PC series")),
    ("IM", "Float switch", 22, 55, ("universal",)),
    ("IM", "Bin thermostat", 30, 75, ("IM series",)),
    ("IM", "Control board", 210, 480, ("IM-300", "IM-500", "PC-650")),
    ("CK", "Heating element", 85, 260, ("combi 9kW", "convection 5.5kW", "fryer 14kW")),
    ("CK", "Igniter", 28, 70, ("hot surface", "spark")),
    ("CK", "Gas valve", 120, 340, ("fryer", "griddle")),
    ("CK", "Thermopile", 25, 60, ("750 mV",)),
    ("CK", "High-limit switch", 30, 80, ("fryer", "oven")),
    ("CK", "Steam generator level probe", 45, 120, ("CX series",)),
    ("CK", "Core temperature probe", 90, 210, ("CX series",)),
    ("CK", "Oven fan motor", 180, 420, ("CX series", "CV series")),
    ("CK", "Oven door gasket", 40, 110, ("CX-6", "CX-10/20", "CV series")),
    ("DW", "Wash pump", 260, 640, ("DT-80", "CV-180")),
    ("DW", "Wash arm", 35, 95, ("DT-80", "UC-40")),
    ("DW", "Rinse arm", 35, 95, ("DT-80", "UC-40")),
    ("DW", "Booster heater element", 120, 280, ("9kW",)),
    ("DW", "Chemical pump tube", 12, 30, ("detergent", "rinse aid")),
    ("DW", "Door switch", 25, 60, ("DT-80",)),
    ("GN", "Contactor", 35, 90, ("30A 3-pole",)),
    ("GN", "Relay", 12, 35, ("24V", "120V")),
    ("GN", "Run capacitor", 10, 28, ("5 uF", "15 uF")),
    ("GN", "Power cord", 25, 55, ("NEMA 5-15", "NEMA 6-30")),
    ("GN", "Caster set", 60, 140, ("4in, 2 locking", "5in, 2 locking")),
    ("GN", "Gearbox oil", 18, 40, ("1 qt",)),
    ("GN", "Drive belt", 20, 48, ("PM-20", "PM-60")),
    ("GN", "Group gasket", 6, 15, ("8.5 mm",)),
)

VISIT_OUTCOMES = (
    "Placed an order", "Demo scheduled", "Follow-up in two weeks", "Quote requested",
    "Owner not available", "Reviewed service history", "Introduced new detergent line",
)

ORDER_NOTES = (
    "Deliver with the next route truck.", "Customer will pick up at the branch.",
    "Quote valid for 30 days.", None, None, None,
)
