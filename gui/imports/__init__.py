"""The import window: a shop's order file (取込…), one order by Charge Permission (注文を追加…), column mappings (issue 11 item 6)."""
